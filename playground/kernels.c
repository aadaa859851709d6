/* The two loops of a decode step (one new token), in C: what playground/kernel.py compiles and loads.

   1. one_row_product: one row times a weight matrix, which a GPT-2-small step does 49 times.
   2. attend_one_query: the new token's query against every cached key and value, per head.

   Both are memory-bound: a step reads every weight once, and every cached key and value once.

   1. On our AMD machine, where a plain sum() reads 40-45 GB/s, MKL's one-row product reads the
   weights at 25-35 GB/s; this loop at 42-47. playground/model.py (Linear) calls it and falls back
   to torch where no compiler is found.

   The weight is stored as an (in, out) row-major block (GPT-2's Conv1D layout; see
   GPT.lay_out_for_decoding), so y = b + sum_i x[i] * W[i, :], a sum of scaled rows. Each thread
   owns a contiguous range of outputs and walks all inputs, eight rows at a time, over its range,
   reading every weight exactly once.

   2. torch's fused attention is built for many queries; with one query it reads the cache at
   ~23 GB/s, this loop at ~37. Here each thread takes whole heads: scores q.k / sqrt(hs) over the cached rows, a
   softmax, then the weighted sum of the value rows. It is used only where the page does not ask
   for the weights (CausalSelfAttention); where it does, the explicit torch path computes them.

   Threads come from torch's own OpenMP pool (the library is loaded after torch, so its libgomp
   is the one already in the process). */
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* y[o0:o1] += sum_i x[i] * w[i, o0:o1]; one copy per instruction set, picked at load time. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void add_scaled_rows(const float *w, const float *x, float *y, long in, long out, long o0, long o1) {
    long i = 0;
    for (; i + 8 <= in; i += 8) { /* eight rows per pass: eight read streams keep the memory busy */
        const float *w0 = w + i * out, *w1 = w0 + out, *w2 = w1 + out, *w3 = w2 + out;
        const float *w4 = w3 + out, *w5 = w4 + out, *w6 = w5 + out, *w7 = w6 + out;
        const float x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
        const float x4 = x[i + 4], x5 = x[i + 5], x6 = x[i + 6], x7 = x[i + 7];
#pragma omp simd
        for (long o = o0; o < o1; o++)
            y[o] += (x0 * w0[o] + x1 * w1[o] + x2 * w2[o] + x3 * w3[o]) + (x4 * w4[o] + x5 * w5[o] + x6 * w6[o] + x7 * w7[o]);
    }
    for (; i < in; i++) {
        const float *wi = w + i * out;
        const float xi = x[i];
#pragma omp simd
        for (long o = o0; o < o1; o++) y[o] += xi * wi[o];
    }
}

/* y (out) = x (in) @ w (in, out) + b (out, or NULL), on `threads` threads. */
void one_row_product(const float *w, const float *x, const float *b, float *y, long in, long out, int threads) {
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        long n = 1, t = 0;
#ifdef _OPENMP
        n = omp_get_num_threads();
        t = omp_get_thread_num();
#endif
        long chunk = ((out + n - 1) / n + 15) / 16 * 16; /* a multiple of 16 floats: one cache line */
        long o0 = t * chunk, o1 = o0 + chunk < out ? o0 + chunk : out;
        for (long o = o0; o < o1; o++) y[o] = b ? b[o] : 0.0f;
        if (o0 < o1) add_scaled_rows(w, x, y, in, out, o0, o1);
    }
}

/* yh (hs) = softmax(qh kh^T * scale) vh over L cached rows; p: room for L floats. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void attend_head(const float *qh, const float *kh, const float *vh, float *yh, float *p, long L, long hs,
                        float scale) {
    float top = -INFINITY, total = 0.0f;
    for (long l = 0; l < L; l++) {
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (long d = 0; d < hs; d++) s += qh[d] * kh[l * hs + d];
        p[l] = s * scale;
        top = p[l] > top ? p[l] : top;
    }
#pragma omp simd reduction(+ : total)
    for (long l = 0; l < L; l++) {
        p[l] = expf(p[l] - top);
        total += p[l];
    }
    for (long d = 0; d < hs; d++) yh[d] = 0.0f;
    for (long l = 0; l < L; l++) {
        const float w = p[l] / total;
#pragma omp simd
        for (long d = 0; d < hs; d++) yh[d] += w * vh[l * hs + d];
    }
}

/* y (n_head, hs) = softmax(q k^T / sqrt(hs)) v for one query per head. Key/value head g = h / (n_head /
   n_kv_head) (grouped-query attention); its L rows of hs floats start at k + g * head_stride. */
void attend_one_query(const float *q, const float *k, const float *v, float *y, long n_head, long n_kv_head,
                      long L, long hs, long head_stride, int threads) {
    const float scale = 1.0f / sqrtf((float)hs);
    const long group = n_head / n_kv_head;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        float *p = malloc(sizeof(float) * (size_t)L); /* this thread's scores, then weights */
#pragma omp for schedule(static)
        for (long h = 0; h < n_head; h++)
            attend_head(q + h * hs, k + (h / group) * head_stride, v + (h / group) * head_stride, y + h * hs, p, L,
                        hs, scale);
        free(p);
    }
}
