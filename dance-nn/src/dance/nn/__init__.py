"""dance-nn: the torch building blocks and the one trainer every deep model of dance uses.

Modules (import what you need; importing this package imports nothing heavy):
``layers`` (fully connected blocks, Gaussian encoder, ZINB heads), ``likelihoods`` (NB, ZINB,
Poisson, Bernoulli, Gaussian, Laplace), ``clustering`` (DEC), ``graphs`` (torch_geometric
helpers, edge-weighted mean convolution), ``reconstruction`` (graph reconstruction losses),
``data`` (minibatches over sparse and paired data), ``trainer`` (the training loop) and
``persistence`` (saving weights without pickle).
"""
