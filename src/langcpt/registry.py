"""MLflow Model Registry: the merged SFT model (transformers flavour) and the GGUF files (pyfunc over llama.cpp).

Load a registered version elsewhere with, for example:
    mlflow.transformers.load_model("models:/langcpt-sft/latest")
    mlflow.pyfunc.load_model("models:/langcpt-gguf/latest").predict(["Hallo, wie geht es dir?"])
"""
from __future__ import annotations

from pathlib import Path

import mlflow
import mlflow.pyfunc


def _pins(*names: str) -> list[str]:
    from importlib.metadata import version

    return [f"{n}=={version(n)}" for n in names]


def register_transformers_model(model_dir: Path, name: str, run) -> int:
    """Log the checkpoint folder as an MLflow transformers model and register it as a new version of `name`."""
    info = mlflow.transformers.log_model(
        transformers_model=str(model_dir), name="model", task="text-generation",
        pip_requirements=_pins("torch", "transformers", "tokenizers", "safetensors"),
        registered_model_name=name)
    return int(info.registered_model_version)


class GGUFChatModel(mlflow.pyfunc.PythonModel):
    """A pyfunc that answers chat messages with llama.cpp from the logged GGUF file."""

    def load_context(self, context):
        from llama_cpp import Llama

        self.llm = Llama(model_path=context.artifacts["gguf"], n_ctx=2048, verbose=False)

    def predict(self, context, model_input, params=None):
        prompts = model_input if isinstance(model_input, list) else list(model_input.iloc[:, 0])
        out = []
        for p in prompts:
            r = self.llm.create_chat_completion(messages=[{"role": "user", "content": str(p)}], max_tokens=128,
                                                temperature=0.0)
            out.append(r["choices"][0]["message"]["content"])
        return out


def register_gguf(gguf_path: Path, modelfile: Path, name: str) -> int:
    """Log a GGUF file (and its Modelfile) as a pyfunc model and register it as a new version of `name`."""
    info = mlflow.pyfunc.log_model(
        name="gguf", python_model=GGUFChatModel(),
        artifacts={"gguf": str(gguf_path), "modelfile": str(modelfile)},
        pip_requirements=_pins("llama-cpp-python"), registered_model_name=name)
    return int(info.registered_model_version)
