"""The generator: text vectors -> synthetic image features (GAZSL's GAN).

    model       generator and discriminator networks
    step        the reference training step (the authors' losses, one at a time)
    fast_step   the same step fused and compiled (checked against the reference)
    precision   bf16 or float32, decided per machine
    trainer     phases of training with periodic evaluation and checkpoints
    gan         the GAZSL estimator (fit, predict) built on them
    model_file  a trained model saved in one file
"""
