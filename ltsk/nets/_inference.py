"""Prediction, features and final layer of a fitted ltsk net."""

from functools import partial

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.utils._set_output import _SetOutputMixin
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn

from ltsk.nets._checks import eval_mode


class FeatureExtractorMixin(ClassNamePrefixFeaturesOutMixin, _SetOutputMixin):
    """``predict``, ``predict_proba``, ``transform``, ``coef_`` and ``intercept_``
    of a skorch net whose ``module_`` has ``features(x)`` and a final layer
    ``classifier``; labels are ``classes_``.

    scikit-learn's mixins add ``get_feature_names_out`` (``"<classname><i>"``
    for feature ``i``) and ``set_output(transform="pandas")``, which wraps
    :meth:`transform` and :meth:`fit_transform`.
    """

    @property
    def _n_features_out(self) -> int:
        # The final layer's input size: what transform returns per sample.
        return self.module_.classifier.in_features

    @property
    def classes_(self) -> np.ndarray:
        """Sorted class labels seen in ``fit`` (or the ``classes`` parameter)."""
        try:
            return self.classes_inferred_
        except AttributeError as exc:
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet; "
                "classes_ is set by fit."
            ) from exc

    def _get_predict_nonlinearity(self):
        if isinstance(self.predict_nonlinearity, str) and (
            self.predict_nonlinearity == "auto"
        ):
            self.check_is_fitted()
            return partial(torch.softmax, dim=-1)
        return super()._get_predict_nonlinearity()

    def predict_proba(self, X):
        """Class probabilities: the softmax of the logits.

        Parameters
        ----------
        X : array-like or torch Dataset
            Inputs of the same kind and shape as those given to :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in ``classes_`` order.
        """
        return super().predict_proba(self._check_predict_input(X))

    def predict(self, X):
        """Most probable class label for each sample.

        Parameters
        ----------
        X : array-like or torch Dataset
            Inputs of the same kind and shape as those given to :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def transform(self, X):
        """Penultimate (backbone) features, computed in eval mode.

        BatchNorm statistics and parameters are left untouched and each
        submodule's train/eval mode is restored afterwards.

        Parameters
        ----------
        X : array-like or torch Dataset
            Inputs of the same kind and shape as those given to :meth:`fit`.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features), dtype float32
            Output of the backbone (the input of the final classifier) for
            each sample.
        """
        features = self._transform_tensor(X, keep_device=False)
        return features.numpy().astype(np.float32, copy=False)

    def _feature_device(self):
        """The device the features are computed on (the net's ``device``)."""
        return self.device

    def _transform_tensor(self, X, keep_device=True):
        """:meth:`transform` as a tensor, left on ``device`` unless told otherwise.

        A head with the same ``device`` takes it without a copy through host
        memory (see :class:`~ltsk.DecoupledClassifier`).
        """
        X = self._check_predict_input(X)
        iterator = self.get_iterator(self.get_dataset(X), training=False)
        features = []
        with eval_mode(self.module_), torch.no_grad():
            for batch in iterator:
                Xi, _ = unpack_data(batch)
                out = self.module_.features(to_tensor(Xi, self.device))
                features.append(out if keep_device else out.cpu())
        return torch.cat(features)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit the net, then return the features of ``X`` (see :meth:`transform`).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or torch Dataset
            Training inputs, as for :meth:`fit`.
        y : array-like of shape (n_samples,), default=None
            Labels of any type; optional when ``X`` is a dataset.
        **fit_params : dict
            Passed on to skorch's fit (forward / train_split parameters).
            ``sample_weight`` is not supported and raises a ``TypeError``.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features), dtype float32
            Output of the backbone (the input of the final classifier) for
            each sample of ``X``, from the fitted net.
        """
        return self.fit(X, y, **fit_params).transform(X)

    def _final_layer(self) -> tuple[np.ndarray, np.ndarray]:
        self.check_is_fitted()
        classifier = self.module_.classifier
        with torch.no_grad():
            if isinstance(classifier, nn.Linear):
                weight = classifier.weight.detach().cpu().numpy().copy()
                if classifier.bias is None:
                    bias = np.zeros(weight.shape[0], dtype=weight.dtype)
                else:
                    bias = classifier.bias.detach().cpu().numpy().copy()
                return weight, bias
            # A cosine classifier maps unit vector e_k to w_jk / ||w_j||: probing
            # with the identity reads the normalised rows whatever the layout.
            param = next(classifier.parameters())
            n_features = classifier.in_features
            eye = torch.eye(n_features, dtype=param.dtype, device=param.device)
            with eval_mode(classifier):
                weight = classifier(eye).T.cpu().numpy().copy()
            return weight, np.zeros(weight.shape[0], dtype=weight.dtype)

    @property
    def coef_(self) -> np.ndarray:
        """Final-layer weights, shape (n_classes, n_features).

        Rows are in ``classes_`` order. For a cosine classifier (LDAM): the
        L2-normalised rows; the net's logits are then ``cos`` = normalised
        features times these rows, and ``argmax(F @ coef_.T)`` equals the net's
        prediction because normalising a feature row by a positive number
        preserves the argmax.
        """
        return self._final_layer()[0]

    @property
    def intercept_(self) -> np.ndarray:
        """Final-layer bias, shape (n_classes,) (zeros for a cosine classifier)."""
        return self._final_layer()[1]
