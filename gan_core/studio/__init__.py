"""The studio's logic behind the pages of both front ends (Streamlit and Gradio), free of any UI
toolkit so it can be tested. By topic:

* :mod:`.files`: where checkpoints live, listing, describing, uploading, deleting, exporting them;
* :mod:`.form`: the training form generated from the config's metadata, presets, relevant settings;
* :mod:`.pictures`: PNG/GIF bytes, grids, tag sweeps, interpolation and arithmetic (via latent.sample);
* :mod:`.runs`: curves, the metrics overview, runs on disk and what differs between them;
* :mod:`.classroom`: a class on one server, the Train page's side: which run a visitor sees (their own,
  never another's in its place), who stopped it, polling until the final evaluation is in;
* :mod:`.board`: the class board: every run's row, sorting, names, pins, permissions, projector view;
* :mod:`.live`: a run's live view, made once per change and shared by every viewer (RunViewCache);
* :mod:`.server`: what an app server does at start (priority, data pool, speed probe) and the time plan;
* :mod:`.panel`: the Train views' metrics text, chart groups, status / queue / view-only lines, field notes
  and the sample grid's tag labels;
* :mod:`.tools`: the tag sweep's note, the 2D lab's shape names and presets, the Sketch pad's start and
  upload wording, exporting a run's generator for a visitor, VGG19 loading;
* :mod:`.views`: cached generators and their captions, tag text, a job's status, queue rows, the Compare
  summary and Checkpoints table, the admin token check, the metrics evaluator's settings.

The names below are re-exported so pages write ``studio.sample_grid(...)``.
"""
from gan_core.train.recipes import DEFAULT_PRESET, PRESETS, Preset, recipe_for
from gan_core.studio.files import (CHECKPOINT_EXTS, CHECKPOINTS_ENV, MAX_UPLOAD_BYTES, CheckpointFile, UploadError, checkpoints_dir,
                    delete_checkpoint, describe_checkpoint, export_run_generator, format_bytes, list_checkpoints,
                    is_translator_file, list_generators, list_run_checkpoints, runs_dir, sanitize_filename, save_upload,
                    validate_upload)
from gan_core.studio.form import (GROUPS, OPTIMIZER_FIELDS, OPTIONAL_FIELDS, SERVER_ONLY, FieldSpec, config_from_flat, field_spec,
                   flatten, form_fields, optimizer_settings, preset_sections, relevant_fields)
from gan_core.studio.panel import (CHART_GROUPS, CONTROL_DISABLED, MORE_CURVES, VIEW_ONLY, WAITING_FIRST_SAMPLE, WAITING_FIRST_STEP,
                   ChartGroup, chart_groups, field_note, grid_labels_view, labelled_grid, metrics_markdown,
                   metrics_view, no_run_message, no_run_text, owner_label, queue_header, queue_row_text, queued_text,
                   reattached_form, run_status_text)
from gan_core.studio.tools import (CUSTOM_PRESET, DRAWN_LABELS, LAB_WIDGETS, SHAPE_NAMES, SWEEP_NOTE, SWEEP_TITLE, VGG, VggLoader,
                    export_generator_as, lab_coerce, lab_form_config, lab_form_values, lab_preset_choices, lab_preset_note,
                    shape_names, SKETCH_PHOTO_HELP, SKETCH_PHOTO_LABEL, SKETCH_UPLOAD_LABEL, sketch_start,
                    sweep_caption)
from gan_core.studio.pictures import (annotate_columns, annotate_rows, arithmetic_images, frames_strip, frames_to_gif, interpolation_frames,
                       label_groups, make_labels, png_bytes, render, sample_grid, tag_sweep, upscale)
from gan_core.studio.seeds import distinct_seeds, seed_distances, seed_loop_frames
from gan_core.studio.runs import (CURVES, DIFF_IGNORED, LOWER_IS_BETTER, METRIC_HELP, METRIC_NAMES, QUALITY_KEYS, RunInfo,
                   config_differences, curve_help, curve_label, downsample, format_duration, format_metric,
                   changed_while_training, curve_axis, history_keys, history_series, list_runs, load_metrics,
                   metrics_overview, mid_run_changes,
                   newest_sample, quality_caption, quality_rows, smooth)
from gan_core.studio.classroom import (end_note, form_start_values, needs_polling, own_run, pending_text, run_list, shown_run,
                        status_text)
from gan_core.studio.live import RunView, RunViewCache, run_view, view_cache
from gan_core.studio.server import plan_markdown, preset_plan, prepare_server
from gan_core.studio.views import (DEFAULT_GENERATOR, GeneratorCache, admin_token_configured, can_continue, check_admin_token,
                    can_steer, checkpoint_rows, continue_run, default_generator, hf_preview_view, find_generator, generator_caption, generator_key, initial_form_values,
                    install_metrics, job_status, live_settings, load_generator_cached, metrics_enabled,
                    parse_tag_text, progress_text, queue_rows, rows_to_table, run_length, run_summary_rows, tags_caption)

__all__ = [
    "DEFAULT_PRESET", "PRESETS", "Preset", "recipe_for", "CHECKPOINT_EXTS", "CHECKPOINTS_ENV", "MAX_UPLOAD_BYTES",
    "CheckpointFile", "UploadError", "checkpoints_dir", "delete_checkpoint", "describe_checkpoint",
    "export_run_generator", "format_bytes", "is_translator_file", "list_checkpoints", "list_generators",
    "list_run_checkpoints",
    "runs_dir", "sanitize_filename", "save_upload", "validate_upload", "GROUPS", "OPTIMIZER_FIELDS",
    "OPTIONAL_FIELDS", "SERVER_ONLY", "FieldSpec", "config_from_flat", "field_spec", "flatten", "form_fields",
    "optimizer_settings", "preset_sections", "relevant_fields", "annotate_columns", "arithmetic_images",
    "annotate_rows", "frames_strip", "frames_to_gif", "interpolation_frames", "label_groups", "make_labels", "png_bytes",
    "render", "sample_grid", "tag_sweep", "upscale", "distinct_seeds", "seed_distances", "seed_loop_frames",
    "CURVES", "DIFF_IGNORED", "LOWER_IS_BETTER", "METRIC_HELP",
    "METRIC_NAMES", "QUALITY_KEYS", "RunInfo", "config_differences", "curve_help", "curve_label", "downsample",
    "format_duration", "format_metric", "history_keys", "history_series", "list_runs", "load_metrics",
    "curve_axis", "metrics_overview", "mid_run_changes", "changed_while_training", "newest_sample", "quality_caption", "quality_rows", "smooth",
    "DEFAULT_GENERATOR", "GeneratorCache", "admin_token_configured", "can_continue", "check_admin_token",
    "can_steer", "checkpoint_rows", "continue_run", "hf_preview_view",
    "default_generator", "find_generator", "generator_caption", "generator_key", "initial_form_values",
    "install_metrics", "job_status", "live_settings", "load_generator_cached", "metrics_enabled", "parse_tag_text",
    "progress_text", "queue_rows", "rows_to_table", "run_length", "run_summary_rows", "tags_caption",
    "end_note", "form_start_values", "needs_polling", "own_run", "pending_text", "run_list", "shown_run", "status_text",
    "RunView", "RunViewCache", "run_view", "view_cache", "plan_markdown", "preset_plan", "prepare_server",
    "CHART_GROUPS", "CONTROL_DISABLED", "MORE_CURVES", "VIEW_ONLY", "WAITING_FIRST_SAMPLE", "WAITING_FIRST_STEP",
    "ChartGroup", "chart_groups", "field_note", "grid_labels_view", "labelled_grid", "metrics_markdown",
    "metrics_view", "no_run_message", "no_run_text", "owner_label", "queue_header", "queue_row_text", "queued_text",
    "reattached_form", "run_status_text", "CUSTOM_PRESET", "DRAWN_LABELS", "LAB_WIDGETS", "SHAPE_NAMES", "SWEEP_NOTE", "SWEEP_TITLE",
    "VGG", "VggLoader", "export_generator_as", "lab_coerce", "lab_form_config", "lab_form_values", "lab_preset_choices",
    "lab_preset_note", "shape_names", "sketch_start", "sweep_caption",
]
