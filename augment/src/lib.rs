//! Style augmentation of labelled datasets.
