"""The data lab: train the bundled architectures on little and on much data, and fine-tune on new data."""
