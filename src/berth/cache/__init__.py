"""Node-local cache daemon for inference-engine images and model artifacts."""
