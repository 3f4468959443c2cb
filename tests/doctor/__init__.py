import socket


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens: bound to find a free one, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
