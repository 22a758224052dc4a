"""Training's rooms, one purpose each; `visionpath.train` (train.py) is the entry that walks through them.

    start      the settings a run was given, a new run folder, or the run to resume
    pictures   the training pictures on the device, the batch, each epoch's order, the class balance
    model      the network on its device: weights, precision, layout, batch norm across processes
    state      where a run stands and how long it runs
    stages     a pretrained backbone's two stages, the feature cache, fine-tuning chosen and re-planned
    loop       fit, train_one_epoch, train_step (lr_find's too), validate, each epoch recorded and saved
    stopping   Ctrl-C, torchrun's SIGTERM, divergence, and what a stopped run keeps
    finish     the best epoch restored and scored, the curves, report and summary
    launcher   several processes through torchrun, and a restart finding its run
"""
