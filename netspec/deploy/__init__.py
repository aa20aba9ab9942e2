"""Deployment: ONNX export and verification, model metadata, onnxruntime inference and input reading."""
