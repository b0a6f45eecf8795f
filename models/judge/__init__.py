"""The sprite judge: six shapes + "not a shape", calibrated; generated data (negatives), training, evaluation."""
