"""uhr4k.benchmark"""
