"""lunet: LU-Net and RU-Net for left-ventricle segmentation in 2D echocardiography."""

__version__ = "0.1.0"
