"""Inference: ``predict_paths`` (streamed prediction of any supported input) and ``export_onnx``.

Import from the submodules (``lunet.inference.predict``, ``lunet.inference.export``); this package imports
nothing heavy.
"""
