"""The ChatML chat template, in the two languages that read it.

Both render the same text for the same conversation:

    <|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n{user}<|im_end|>\\n<|im_start|>assistant\\n

No literal BOS: llama.cpp and Ollama add BOS themselves (tokenizer.ggml.add_bos_token = true).
"""

# Jinja, for tokenizer.chat_template in the GGUF (llama.cpp, transformers).
CHATML_JINJA = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Ollama's Go template over .Messages. Ollama puts the Modelfile's SYSTEM into .Messages as the first
# message (unless the request has its own) and also exposes it as .System; ranging over .Messages
# alone writes the system message exactly once.
CHATML_GO = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)

STOP = ["<|im_end|>"]


def render_chatml(messages: list[dict], add_generation_prompt: bool = True) -> str:
    """Python rendering of the same template (tests compare it with Jinja and with Ollama)."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")
