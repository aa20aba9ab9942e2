"""The package version, in one place (read by the API, the CLI and ONNX metadata)."""

__version__ = "0.1.0"
