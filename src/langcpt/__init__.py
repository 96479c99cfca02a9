"""langcpt: teach a small LLM a new language (data -> CPT -> SFT -> evaluate -> GGUF).

The library knows nothing of DVC: `pipelines/<stage>.py` read params.yaml, call into here and write outputs.
"""
__version__ = "0.1.0"
