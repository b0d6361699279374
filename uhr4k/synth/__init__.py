"""uhr4k.synth"""
