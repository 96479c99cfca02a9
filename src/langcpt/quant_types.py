"""The quantization types of the GGUF export (`gguf.quantizations`): one list for params_schema and
langcpt.gguf_export, in a module of its own so that validating params does not import the exporter."""

QUANT_TYPES = {  # name -> llama_cpp constant
    "f16": "LLAMA_FTYPE_MOSTLY_F16",
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
}
