"""Models: the registry and what it holds, in rooms of their own.

    registry.py   one row per model: builder, pixel scaling, recipe; `create_model`, `model_entry`
    scratch.py    the models trained from scratch (mlp, cnn, resnet9), each explained for a beginner
    transfer.py   pretrained backbones with a new head (`Transfer`), and their ImageNet weights
    kernels.py    faster CPU paths for dropout and depthwise convolutions, each with its measurement
    running.py    pixel scaling, and scores or features of many pictures a batch at a time
"""
from .kernels import DepthwiseConv2d, DepthwiseConv2dSame, Dropout, use_fast_depthwise
from .registry import MODELS, TRANSFER_RECIPE, ModelEntry, count_parameters, create_model, model_entry
from .running import (border_brightness, features_in_batches, is_convolutional, logits_in_batches,
                      prepare_for_device, scale_pixels, scaling_for)
from .transfer import (OFFLINE_WEIGHTS, Transfer, has_offline_weights, load_pretrained, offline_lite0_weights,
                       offline_weights, pretrained_state)

__all__ = ["MODELS", "OFFLINE_WEIGHTS", "TRANSFER_RECIPE", "ModelEntry", "Transfer", "DepthwiseConv2d",
           "DepthwiseConv2dSame", "Dropout", "border_brightness", "count_parameters", "create_model",
           "features_in_batches", "has_offline_weights", "is_convolutional", "load_pretrained", "logits_in_batches",
           "model_entry", "offline_lite0_weights", "offline_weights", "prepare_for_device", "pretrained_state",
           "scale_pixels", "scaling_for", "use_fast_depthwise"]
