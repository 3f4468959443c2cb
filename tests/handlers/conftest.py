"""The core's tests run the real delivery worker against a recording chat and recording customers."""

import pytest

from bot.delivery import DeliveryWorker
from tests.conftest import RecordingChat, RecordingCustomers


@pytest.fixture
def chat():
    return RecordingChat()


@pytest.fixture
def customers():
    return RecordingCustomers()


@pytest.fixture
def worker(ctx, chat, customers):
    return DeliveryWorker(ctx, {"test": chat}, customers)


async def drain(worker):
    while await worker.run_once():
        pass
