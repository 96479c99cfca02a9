"""langcpt: teach a small LLM a new language (data -> CPT -> SFT -> evaluate -> GGUF).

The library knows nothing of DVC: `pipelines/<stage>.py` read params.yaml, call into here and write outputs.

Offline by default: importing langcpt (before transformers / huggingface_hub / mlflow, which read these at import)
sets HF_HUB_OFFLINE=1 and turns telemetry off unless the environment already says otherwise. Set
HF_HUB_OFFLINE=0 to use hub ids for the base model or an `hf` corpus source.
"""
import os

for _key, _value in {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
                     "DO_NOT_TRACK": "true", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}.items():
    os.environ.setdefault(_key, _value)
os.environ.setdefault("HF_DATASETS_OFFLINE", os.environ["HF_HUB_OFFLINE"])

__version__ = "0.1.0"
