"""Motion generation: models (Playmate, JoyVASA), schedulers, samplers, normalisation."""
