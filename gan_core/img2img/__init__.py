"""Image to image: pix2pix inference (translate) and neural style transfer (style, style_vgg).

Each module is imported by its full name (``gan_core.img2img.<module>``); this package re-exports nothing,
so importing one of its modules never imports the others.
"""
