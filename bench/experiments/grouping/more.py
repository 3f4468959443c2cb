import numpy as np
from lab import top3_from_labels, unit
from handlers import issue_groups as ig


def m_hdbscan(mcs, ms=None, method="eom", eps=0.0):
    from sklearn.cluster import HDBSCAN
    def f(x):
        lab = HDBSCAN(min_cluster_size=mcs, min_samples=ms, cluster_selection_method=method,
                      cluster_selection_epsilon=eps, copy=True).fit_predict(x.astype(np.float64))
        lab = lab.copy()
        noise = lab < 0
        lab[noise] = lab.max() + 1 + np.arange(noise.sum())
        return top3_from_labels(lab)
    return f


def m_ward(th):
    from sklearn.cluster import AgglomerativeClustering
    def f(x):
        lab = AgglomerativeClustering(n_clusters=None, distance_threshold=th, linkage="ward").fit_predict(x)
        return top3_from_labels(lab)
    return f


def m_link(th, linkage):
    from sklearn.cluster import AgglomerativeClustering
    def f(x):
        lab = AgglomerativeClustering(n_clusters=None, distance_threshold=th, linkage=linkage, metric="cosine").fit_predict(x)
        return top3_from_labels(lab)
    return f


def m_vmf(init_th=0.45, kappa=20.0, iters=30, floor=0.0):
    """EM for a von Mises-Fisher mixture with shared kappa and mixing weights, started from
    average-linkage clusters; components whose weight falls under ``floor`` die."""
    def f(x):
        lab = ig._average_linkage(x @ x.T, init_th)
        _, lab = np.unique(lab, return_inverse=True)
        c = lab.max() + 1
        r = np.zeros((len(x), c)); r[np.arange(len(x)), lab] = 1
        for _ in range(iters):
            pi = r.sum(0) / len(x)
            keep = pi > max(floor, 1e-9)
            r, pi = r[:, keep], pi[keep]
            mu = unit(r.T @ x)
            logp = np.log(pi) + kappa * (x @ mu.T)
            logp -= logp.max(1, keepdims=True)
            r = np.exp(logp); r /= r.sum(1, keepdims=True)
        return top3_from_labels(np.argmax(r, 1))
    return f
