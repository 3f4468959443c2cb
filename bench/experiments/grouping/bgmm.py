import numpy as np
from lab import top3_from_labels, unit
from handlers import issue_groups as ig


def m_bgmm(dims=20, comps=30, cov="spherical", prior=0.01, init="kmeans", seed=0):
    from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
    def f(x):
        xc = x - x.mean(0)
        u, s, vt = np.linalg.svd(xc, full_matrices=False)
        z = xc @ vt[:dims].T
        if init == "avg":
            lab = ig._average_linkage(x @ x.T, 0.45)
            _, lab = np.unique(lab, return_inverse=True)
            means = np.stack([z[lab == j].mean(0) for j in range(lab.max() + 1)])
            kw = dict(n_components=len(means), means_init=means) if prior is None else None
        m = BayesianGaussianMixture(n_components=min(comps, len(x) - 1), covariance_type=cov,
                                    weight_concentration_prior=prior, weight_concentration_prior_type="dirichlet_process",
                                    max_iter=300, random_state=seed, init_params="k-means++")
        lab = m.fit(z).predict(z)
        return top3_from_labels(lab)
    return f
