"""Export a trained run: GGUF (llama.cpp / Ollama), quantization, Hugging Face format, Modelfiles.

source.py      finds the checkpoint, its config and tokenizer in a RUN_DIR or checkpoint dir
tokenizer_meta.py  the SentencePiece vocabulary as GGUF tokenizer metadata
gguf_writer.py writes the GGUF (gguf.GGUFWriter), read_back.py validates it
quantize.py    llama.cpp's own quantizer (llama_model_quantize)
hf.py          safetensors + config.json for transformers' LlamaForCausalLM
modelfile.py   Ollama Modelfile: generate and parse
templates.py   the ChatML chat template (Jinja for GGUF, Go template for Ollama)
"""
