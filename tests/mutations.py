"""Mutations: break the code on purpose, one way at a time, and check that the tests protecting it fail.

    .venv/bin/python tests/mutations.py [WORDS...]     # all mutations, or those whose name has one of the WORDS

Each mutation replaces one exact piece of the source in a copy of the project (in a temporary folder) and runs the
tests named with it; a mutation the tests do not catch is a test that cannot fail. Not part of the test run.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# (what breaks, file, exact text, its replacement, the tests that must fail)
MUTATIONS = [
 ("class weights disabled", "src/visionpath/train.py",
  "config.l1, data.class_weights,\n", "config.l1, None,\n",
  ["tests/test_train.py::test_balance_for_unbalanced_classes_changes_what_is_learned"]),
 ("sampler ignored", "src/visionpath/train.py",
  "    if sample_weights is None:\n        return torch.randperm", "    if True:\n        return torch.randperm",
  ["tests/test_train.py::test_the_sampler_draws_every_class_equally_often",
   "tests/test_train.py::test_balance_for_unbalanced_classes_changes_what_is_learned"]),
 ("early stopping never stops", "src/visionpath/train.py",
  "if config.early_stopping and last_stage and", "if False and",
  ["tests/test_train.py::test_early_stopping_restores_the_best_epoch_and_scores_it_on_test",
   "tests/test_train_stages.py::test_early_stopping_waits_for_fine_tuning"]),
 ("early stopping counts stage 1 too", "src/visionpath/train.py",
  "last_stage = stage.number == (2 if model.two_stages else 1)", "last_stage = True",
  ["tests/test_train_stages.py::test_early_stopping_waits_for_fine_tuning"]),
 ("best epoch not restored before the test", "src/visionpath/train.py",
  '    model.net.load_state_dict(load_tensors(run_dir / "best.safetensors", "model."))\n    plot_curves', "    plot_curves",
  ["tests/test_train.py::test_early_stopping_restores_the_best_epoch_and_scores_it_on_test"]),
 ("Ctrl-C cuts the writing of an epoch's files", "src/visionpath/train.py",
  "        if not self._deferring:\n            raise Stopped", "        if True:\n            raise Stopped",
  ["tests/test_train.py::test_ctrl_c_stops_at_once_but_lets_an_epoch_s_files_be_written_whole"]),
 ("resume forgets the shuffle stream", "src/visionpath/train.py",
  '        generators.shuffle.set_state(rng["shuffle"])', "        pass",
  ["tests/test_train.py::test_ctrl_c_saves_and_resume_gives_the_same_result"]),
 ("resume forgets the augmentation stream", "src/visionpath/train.py",
  '            generators.augment.set_state(rng["augment"])', "            pass",
  ["tests/test_train.py::test_resume_continues_the_augmentation_stream"]),
 ("L1 penalty dropped", "src/visionpath/optim.py",
  "        loss = loss + l1 * sum(w.abs().sum() for w in weights)", "        pass",
  ["tests/test_optim.py", "tests/test_train.py::test_l1_penalty_shrinks_the_weights"]),
 ("weight decay on biases too", "src/visionpath/optim.py",
  '{"params": [p for p in share if p.dim() <= 1], "weight_decay": 0.0,', '{"params": [p for p in share if p.dim() <= 1], "weight_decay": weight_decay,',
  ["tests/test_optim.py"]),
 ("bf16 autocast never on", "src/visionpath/train.py",
  'enabled=precision in ("bf16", "fp16"))', "enabled=False)",
  ["tests/test_train.py::test_bf16_mixed_precision_trains_and_is_recorded"]),
 ("bf16 chosen however slow", "src/visionpath/devices.py",
  "    if bf16_seconds < 0.8 * fp32_seconds:", "    if True:",
  ["tests/test_devices.py"]),
 ("a range check removed", "src/visionpath/config.py",
  '    epochs: int | None = setting(None, "passes over the training images; with a pretrained backbone, the epochs "\n                                 "of stage 1 (the new head alone)", fallback=6, valid="≥ 1")',
  '    epochs: int | None = setting(None, "passes over the training images; with a pretrained backbone, the epochs "\n                                 "of stage 1 (the new head alone)", fallback=6)',
  ["tests/test_config.py", "tests/test_train.py::test_bad_settings_get_one_clear_sentence_and_leave_no_run_folder"]),
 ("older runs filled with today's defaults", "src/visionpath/config.py",
  '                   **{f.name: f.metadata["absent"] for f in missing})', '                   **{f.name: f.default for f in missing})',
  ["tests/test_config.py::test_a_run_of_an_older_version_is_read_with_what_it_trained_with"]),
 ("recipe ignored", "src/visionpath/defaults.py",
  "    recipe = {k: v for k, v in model_entry(model).recipe.items() if getattr(config, k) is None and k not in chosen}",
  "    recipe = {}",
  ["tests/test_defaults.py", "tests/test_train.py::test_a_models_recipe_fills_what_the_user_left_out"]),
 ("photo fine-tuning rate changed", "src/visionpath/defaults.py",
  "rate = config.fine_tune_lr or (1e-5 if small else 1e-3)", "rate = config.fine_tune_lr or 1e-4",
  ["tests/test_defaults.py"]),
 ("accuracy as a float32 mean", "src/visionpath/evaluate.py",
  "(predictions == labels).sum().item() / len(labels)", "(predictions == labels).float().mean().item()",
  ["tests/test_evaluate.py"]),
 ("fine-tuning below the head called rising", "src/visionpath/report.py",
  'max(r["val_accuracy"] for r in before + rows)', 'max(r["val_accuracy"] for r in rows)',
  ["tests/test_report.py::test_fine_tuning_that_climbs_back_towards_the_head_is_not_still_rising"]),
 ("the plan ignores the budget", "src/visionpath/defaults.py",
  "        if plan.total <= budget:\n            return plan", "        return plan",
  ["tests/test_defaults.py"]),
 ("stage 1 never ends early", "src/visionpath/train.py",
  "        if since >= config.early_stopping:\n            return row[\"epoch\"]", "",
  ["tests/test_train_stages.py::test_each_stage_stops_on_its_own"]),
 ("split copies apart", "src/visionpath/data/folder.py",
  "            copies.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(path)",
  "            copies.setdefault(str(path), []).append(path)",
  ["tests/data/test_folder.py::test_split_folder_keeps_exact_copies_in_one_split"]),
 ("batch norm statistics move while fine-tuning", "src/visionpath/train.py",
  "    frozen += [m for m in net.backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]", "",
  ["tests/test_train_stages.py::test_unfreeze_top_blocks_fine_tunes_only_those",
   "tests/test_train_stages.py::test_discriminative_learning_rates_shrink_block_by_block"]),
 ("an upward import", "src/visionpath/report.py",
  "from .run_folder import read_history\n", "from .run_folder import read_history\nfrom .runs import Run  # noqa\n",
  ["tests/test_layering.py"]),
 ("matplotlib switched on import", "src/visionpath/report.py",
  "from matplotlib.figure import Figure\n", "import matplotlib\nmatplotlib.use('Agg')\nfrom matplotlib.figure import Figure\n",
  ["tests/test_layering.py::test_importing_visionpath_leaves_matplotlib_as_it_was"]),
 ("our dropout keeps everything", "src/visionpath/models/kernels.py",
  "(torch.rand_like(x) >= self.p)", "(torch.rand_like(x) >= 0)",
  ["tests/models/test_kernels.py"]),
 ("small-map depthwise gradient off by a tap", "src/visionpath/models/kernels.py",
  "grad_weight[:, 0, i, j] = (padded[:, :, i:i + height, j:j + width] * grad_out).sum((0, 2, 3))",
  "grad_weight[:, 0, j, i] = (padded[:, :, i:i + height, j:j + width] * grad_out).sum((0, 2, 3))",
  ["tests/models/test_kernels.py"]),
 ("prediction blends transparency onto black", "src/visionpath/data/images.py",
  '    background = Image.new("RGBA", img.size, (255, 255, 255, 255))', '    background = Image.new("RGBA", img.size, (0, 0, 0, 255))',
  ["tests/test_predict.py::test_any_picture_is_converted_to_what_the_model_expects"]),
 ("a head in the registry cut off from the loss", "src/visionpath/models/scratch.py",
  "        nn.AdaptiveMaxPool2d(1), nn.Flatten(), Dropout(dropout), nn.Linear(w[3], num_classes, bias=False),",
  "        nn.AdaptiveMaxPool2d(1), nn.Flatten(), Dropout(dropout), nn.Linear(w[3], num_classes, bias=False).requires_grad_(False),",
  ["tests/models/test_registry.py"]),
 ("the report forgets the command", "src/visionpath/report_html.py",
  '    out.append(f"<p><code>{html.escape(command)}</code></p>")', "",
  ["tests/test_report.py::test_report_html_is_self_contained_and_complete"]),
 ("dataset listing always says cached", "src/visionpath/cli.py",
  'state = "cached" if cached == len(spec.files) else', 'state = "cached" if True else',
  ["tests/test_cli.py::test_listings"]),
 # several processes (tests/test_distributed.py: real torchrun launches of 2 Gloo processes)
 ("each process's loss a mean of its own share", "src/visionpath/train.py",
  "    whole = data.class_weights[data.labels[batch]].sum() if data.class_weights is not None else len(batch)",
  "    whole = len(batch)",
  ["tests/test_distributed.py::test_two_processes_take_the_steps_of_one_and_only_the_first_writes[weights]"]),
 ("every process trains on the whole batch", "src/visionpath/train.py",
  "        index = batch[processes.shard(len(batch))]", "        index = batch",
  ["tests/test_distributed.py::test_two_processes_take_the_steps_of_one_and_only_the_first_writes[sampler]"]),
 ("training loss and accuracy of one process only", "src/visionpath/train.py",
  "    sum_over(processes, loss_sum, correct)\n", "\n",
  ["tests/test_distributed.py::test_two_processes_take_the_steps_of_one_and_only_the_first_writes[sampler]"]),
 ("every process writes the run folder", "src/visionpath/train.py",
  "                if data.processes.main:\n                    save_epoch", "                if True:\n                    save_epoch",
  ["tests/test_distributed.py::test_two_processes_take_the_steps_of_one_and_only_the_first_writes[sampler]"]),
 ("pictures one process could not read go unnoticed", "src/visionpath/train.py",
  "    every = gather_objects(processes, mine)", "    every = [mine]",
  ["tests/test_distributed.py::test_a_picture_one_process_cannot_read_stops_every_process_with_one_sentence"]),
 ("a restart starts a new run", "src/visionpath/train.py",
  "    if not under_torchrun() or restart == 0:", "    if True:",
  ["tests/test_distributed.py::test_torchrun_restarting_the_processes_resumes_the_run_they_started"]),
 ("a restart reads the last start's addresses", "src/visionpath/distributed.py",
  '    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":', "    if True:",
  ["tests/test_distributed.py::test_torchrun_restarting_the_processes_resumes_the_run_they_started"]),
 ("fp16 without loss scaling", "src/visionpath/train.py",
  'scaler = torch.amp.GradScaler(data.device.type, enabled=precision == "fp16")',
  'scaler = torch.amp.GradScaler(data.device.type, enabled=False)',
  ["tests/test_train.py::test_fp16_trains_with_its_loss_scaled"]),
 ("a GPU without bf16 never tries fp16", "src/visionpath/devices.py",
  '    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):',
  '    for name, dtype in (("bf16", torch.bfloat16),):',
  ["tests/test_devices.py::test_a_gpu_gets_bf16_else_fp16_else_fp32_as_measured"]),
 ("export forgets the pixel scaling", "src/visionpath/export.py",
  "        return self.net((pictures.float() - self.offset) / self.scale).softmax(1)",
  "        return self.net(pictures.float() / 255).softmax(1)",
  ["tests/test_export.py::test_predict_from_the_onnx_file_answers_as_the_run_does"]),
 ("an export that answers otherwise is kept", "src/visionpath/export.py",
  "    if not np.abs(answer - expected).max() <= TOLERANCE:", "    if False:",
  ["tests/test_export.py::test_an_export_that_answers_otherwise_is_not_written"]),
 ("serve classifies each request alone", "src/visionpath/serve.py",
  "            while sum(len(p) for p, _ in waiting) < MAX_BATCH:", "            while False:",
  ["tests/test_serve.py::test_concurrent_clients_are_classified_together"]),
 ("serve answers clients in the wrong order", "src/visionpath/serve.py",
  "zip(waiting, probabilities.split(", "zip(waiting[::-1], probabilities.split(",
  ["tests/test_serve.py::test_concurrent_clients_are_classified_together"]),
 ("serve decodes a bomb", "src/visionpath/serve.py",
  "        if h * w > limits.max_pixels:", "        if False:",
  ["tests/test_serve.py::test_every_bad_request_gets_one_sentence_and_the_right_status"]),
 ("serve reads any upload", "src/visionpath/serve.py",
  "    if int(length) > limits.max_upload_mb * 1e6:", "    if False:",
  ["tests/test_serve.py::test_every_bad_request_gets_one_sentence_and_the_right_status"]),
 ("serve decodes uploads its own way", "src/visionpath/serve.py",
  "    decoded = load_images(uploads, (height, width), channels)",
  "    decoded = [torch.from_numpy(np.asarray(Image.open(io.BytesIO(u.data)).convert('RGB').resize((width, height)))"
  ").permute(2, 0, 1).contiguous() for u in uploads]\n    import io, numpy as np\n    from PIL import Image",
  ["tests/test_serve.py::test_the_api_answers_as_predict_does_from_the_run_and_from_its_onnx_file"]),
 ("an upload is not read as its file", "src/visionpath/data/images.py",
  "    return io.BytesIO(source.data) if isinstance(source, InMemory) else source",
  "    return io.BytesIO(source.data[:-64]) if isinstance(source, InMemory) else source",
  ["tests/data/test_images.py::test_many_at_once_gives_the_same_pixels_as_one_at_a_time"]),
 ("Grad-CAM weighs every feature map alike", "src/visionpath/inside.py",
  "    weights = gradients.mean(dim=(2, 3), keepdim=True)", "    weights = gradients.mean(dim=(2, 3), keepdim=True) * 0 + 1",
  ["tests/test_inside.py::test_grad_cam_weighs_each_feature_map_by_how_much_it_moves_the_class_score"]),
 ("the feature maps drawn after the in-place ReLU", "src/visionpath/inside.py",
  "captured.append(out.detach().float().clone())", "captured.append(out.detach().float())",
  ["tests/test_inside.py::test_the_filters_drawn_are_the_first_convolution_s_and_so_are_the_feature_maps"]),
 ("the report's gallery forgets where the model looked", "src/visionpath/report_html.py",
  "    overlays = heat_overlays(*model, images.images[order]) if model is not None else None",
  "    overlays = None",
  ["tests/test_report.py::test_the_gallery_shows_where_a_convolutional_model_looked_in_each_mistake"]),
 ("lr-find suggests the edge itself", "src/visionpath/lr_find.py",
  "LRFinding(rates, losses, rates[best] / 10, output)", "LRFinding(rates, losses, rates[best], output)",
  ["tests/test_lr_find.py::test_the_rate_rises_until_the_loss_explodes_and_a_tenth_of_the_best_is_suggested"]),
 ("lr-find goes on after the loss exploded", "src/visionpath/lr_find.py",
  "            if step > 10 and smoothed > EXPLODED * lowest:", "            if False:",
  ["tests/test_lr_find.py::test_the_rate_rises_until_the_loss_explodes_and_a_tenth_of_the_best_is_suggested"]),
]


def main(words: list[str]) -> int:
    results = []
    for name, path, old, new, tests in MUTATIONS:
        if words and not any(w in name for w in words):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "repo"
            shutil.copytree(REPO, work, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "__pycache__",
                                                                      "results", ".pytest_cache", ".bench"))
            text = (work / path).read_text()
            assert text.count(old) == 1, f"{name}: the text to replace is not in {path} exactly once"
            (work / path).write_text(text.replace(old, new))
            done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:warnings", "-p",
                                   "no:cacheprovider", *tests], cwd=work, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(work / "src")})
        caught = done.returncode != 0
        failed = next((line for line in done.stdout.splitlines() if line.startswith("FAILED")), "")
        results.append(caught)
        print(f"{'caught' if caught else 'MISSED'}: {name}  {failed[:110]}", flush=True)
    print(f"{sum(results)} of {len(results)} mutations caught")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
