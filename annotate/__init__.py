"""The napari plugin for clicking points per vertebra (thin: it calls pointseg and pseudo)."""
