"""Images in and out (files, tensors, colour) and the VGG19 network every loss reads: the
bottom layer of the library, which imports nothing above it."""
