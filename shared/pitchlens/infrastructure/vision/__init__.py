"""Vision adapters: person detection with YOLO (OpenVINO runtime for exported models, ultralytics
for `.pt` weights), its evaluation against labelled frames, and the torchvision stand-in that lets
ultralytics run next to a CPU-only torch. Importing this package loads no model and no runtime."""
