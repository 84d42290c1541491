"""Face detection and landmarks (BlazeFace, FaceMesh), aligned crop and paste-back."""
