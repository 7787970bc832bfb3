"""Language models: sequence-level and word-level distillation of a character-level LM.

A recipe with `kind = "charlm"` runs here instead of the classifier pipeline:

    corpus (pydoc_data, offline) → teacher GPT (trained in the run, cached)
      → teacher samples (sequence-level data) and teacher distributions (word-level targets)
      → three students from one init: scratch, word-level, sequence-level
      → validation perplexity of all four → student ONNX (fixed context) → bench → report

Modules: config (the recipe, torch-free), corpus, model, train, generate, stage, export, report,
pipeline (run folder).
"""
