/*
 * Project-owned stand-in for miniaudio.h, used only to build Ollama from the Go
 * module zip (which omits llama.cpp's vendor/ folder). It declares exactly what
 * llama.cpp's tools/mtmd/mtmd-helper.cpp uses, and every decoder call fails with
 * MA_ERROR, so audio input is cleanly rejected ("not a valid audio file").
 * Polski's models are text-only; nothing here decodes audio.
 */
#ifndef POLSKI_MINIAUDIO_STUB_H
#define POLSKI_MINIAUDIO_STUB_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t ma_uint32;
typedef uint64_t ma_uint64;
typedef int ma_result;

#define MA_SUCCESS 0
#define MA_ERROR (-1)

typedef enum { ma_format_unknown = 0, ma_format_f32 = 5 } ma_format;

typedef struct {
    ma_format format;
    ma_uint32 channels;
    ma_uint32 sampleRate;
} ma_decoder_config;

typedef struct {
    int unused;
} ma_decoder;

static inline ma_decoder_config ma_decoder_config_init(ma_format format, ma_uint32 channels, ma_uint32 sample_rate) {
    ma_decoder_config config;
    config.format = format;
    config.channels = channels;
    config.sampleRate = sample_rate;
    return config;
}

static inline ma_result ma_decoder_init_memory(const void * data, size_t size, const ma_decoder_config * config, ma_decoder * decoder) {
    (void) data; (void) size; (void) config; (void) decoder;
    return MA_ERROR;
}

static inline ma_result ma_decoder_get_length_in_pcm_frames(ma_decoder * decoder, ma_uint64 * length) {
    (void) decoder;
    *length = 0;
    return MA_ERROR;
}

static inline ma_result ma_decoder_read_pcm_frames(ma_decoder * decoder, void * frames, ma_uint64 count, ma_uint64 * read) {
    (void) decoder; (void) frames; (void) count;
    *read = 0;
    return MA_ERROR;
}

static inline ma_result ma_decoder_uninit(ma_decoder * decoder) {
    (void) decoder;
    return MA_SUCCESS;
}

#endif
