"""One adapter per receiver, all behind `base.Channel`; `build_channel` maps a configured
channel to its adapter."""
