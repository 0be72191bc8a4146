"""skorch callback of the benchmark (imports skorch, so imported lazily)."""

from skorch.callbacks import Callback


class EpochProgress(Callback):
    """Report each finished epoch (loss and duration) through ``log``."""

    def __init__(self, log, name):
        self.log = log
        self.name = name

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        self.log(
            f"  {self.name}: epoch {row['epoch']}/{net.max_epochs}, train loss "
            f"{row['train_loss']:.4f} ({row['dur']:.1f} s)"
        )
