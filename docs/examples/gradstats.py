# gradstats.py: a complete iqabench method plugin
import torch

from iqabench import Method, Views, register_method


@register_method("gradstats")
class GradientStatistics(Method):
    description = "Mean, spread and kurtosis of luminance gradients, full and half scale"
    kind = "features"  # the protocols fit a quality model (ridge) on these
    method_type = "Handcrafted"  # the Type column of Table 1
    views = Views(crops=0, scales=(1.0, 0.5))  # whole image, at full and half scale
    version = "1"  # bump when extract() changes: features cached under another version are not reused

    def extract(self, batch: torch.Tensor) -> torch.Tensor:
        # batch: N×3×H×W, RGB in [0, 1], on self.device; return N×D features
        y = 0.299 * batch[:, 0] + 0.587 * batch[:, 1] + 0.114 * batch[:, 2]
        features = []
        for g in (y[:, :, 1:] - y[:, :, :-1], y[:, 1:, :] - y[:, :-1, :]):
            g = g.flatten(1)
            spread = g.std(dim=1)
            centred = g - g.mean(dim=1, keepdim=True)
            kurtosis = centred.pow(4).mean(dim=1) / spread.pow(4).clamp_min(1e-12)
            features += [g.abs().mean(dim=1), spread, kurtosis.log1p()]
        return torch.stack(features, dim=1)
