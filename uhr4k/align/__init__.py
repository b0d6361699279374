"""uhr4k.align"""
