// CUDA kernels of skiptrain::select_channels and skiptrain::sample_channels, mirroring
// ops/cpu/select_channels_kernel.cpp: per-channel L1 norms of the error map (read in place, NCHW or
// channels-last) and of the weights, summed in double in a fixed order (deterministic); then one block
// scores the C_out channels and ranks them, writing the kept indices ascending (select), or one thread
// draws them in proportion to their scores (sample, channel_sampling.h). No host synchronisation,
// every launch on the current stream: the top-k selection can be captured in a CUDA graph.
#include "skiptrain/ops/select_channels.h"
#include "skiptrain/ops/channel_sampling.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <cub/block/block_scan.cuh>

#include <algorithm>

namespace skiptrain {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;               // threads of the norm kernels
constexpr int kRankThreads = 1024;          // threads of the single-block kernels
constexpr int64_t kMaxRankChannels = 4096;  // scores the ranking block holds in shared memory (32 KiB)
constexpr int64_t kBlockElements = 16384;   // error-map elements one block sums, about
constexpr int64_t kSegment = 2048;          // NCHW: a warp's unit of work, a piece of one [H, W] plane
constexpr int64_t kMaxPartials = 65535;     // blocks per channel (gridDim.y)
static_assert(kRankThreads % kWarp == 0, "channel_scores gives each warp whole channels");

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// `wanted` blocks, at least 1 and at most `most`.
int64_t block_count(int64_t wanted, int64_t most) { return std::max<int64_t>(1, std::min(wanted, most)); }

template <typename T>
__device__ __forceinline__ double abs_double(T v) {
  return ::fabs(static_cast<double>(static_cast<at::opmath_type<T>>(v)));
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// The sum of v over the block (a multiple of 32 threads), in a fixed order, returned to every thread.
// shared: kWarp doubles.
__device__ double block_sum(double v, double* shared) {
  const int t = threadIdx.y * blockDim.x + threadIdx.x;
  const int warps = blockDim.x * blockDim.y / kWarp;
  v = warp_sum(v);
  if (t % kWarp == 0) shared[t / kWarp] = v;
  __syncthreads();
  if (t < kWarp) {
    v = warp_sum(t < warps ? shared[t] : 0.0);
    if (t == 0) shared[0] = v;
  }
  __syncthreads();
  v = shared[0];
  __syncthreads();  // shared is free for the next call
  return v;
}

// NCHW-contiguous grad_output [N, C, HW]: partial[c * P + p] (P = gridDim.y) sums |delta| over block
// (c, p)'s units, a unit being a segment of one plane (n, c); units go round the blocks' warps in turn.
template <typename T>
__global__ void error_norms_nchw(const T* __restrict__ go, int64_t n_images, int64_t channels, int64_t plane,
                                 int64_t segments, double* __restrict__ partial) {
  __shared__ double shared[kWarp];
  const int64_t c = blockIdx.x;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp, warps = blockDim.x / kWarp;
  double acc = 0;
  for (int64_t u = static_cast<int64_t>(blockIdx.y) * warps + warp; u < n_images * segments;
       u += static_cast<int64_t>(gridDim.y) * warps) {
    const int64_t n = u / segments, seg = u - n * segments;
    const T* p = go + (n * channels + c) * plane;
    const int64_t end = (seg + 1) * kSegment < plane ? (seg + 1) * kSegment : plane;
    for (int64_t s = seg * kSegment + lane; s < end; s += kWarp) acc += abs_double(p[s]);
  }
  acc = block_sum(acc, shared);
  if (threadIdx.x == 0) partial[c * gridDim.y + blockIdx.y] = acc;
}

// Channels-last grad_output, rows [N * H * W] of C channels: block (x, p) sums channels
// [32x, 32x + 32) (threadIdx.x) over rows p * blockDim.y + threadIdx.y, stepping P * blockDim.y.
template <typename T>
__global__ void error_norms_nhwc(const T* __restrict__ go, int64_t rows, int64_t channels,
                                 double* __restrict__ partial) {
  __shared__ double shared[kThreads / kWarp][kWarp];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kWarp + threadIdx.x;
  double acc = 0;
  if (c < channels)
    for (int64_t r = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; r < rows;
         r += static_cast<int64_t>(gridDim.y) * blockDim.y)
      acc += abs_double(go[r * channels + c]);
  shared[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < channels) {
    for (unsigned i = 1; i < blockDim.y; ++i) acc += shared[i][threadIdx.x];
    partial[c * gridDim.y + blockIdx.y] = acc;
  }
}

// norms[c] = ||W_c||_1, W_c the c-th of C contiguous rows of k elements (one block per row).
template <typename T>
__global__ void weight_norms(const T* __restrict__ w, int64_t k, double* __restrict__ norms) {
  __shared__ double shared[kWarp];
  const T* row = w + static_cast<int64_t>(blockIdx.x) * k;
  double acc = 0;
  for (int64_t i = threadIdx.x; i < k; i += blockDim.x) acc += abs_double(row[i]);
  acc = block_sum(acc, shared);
  if (threadIdx.x == 0) norms[blockIdx.x] = acc;
}

// One block: score[c] = gamma2 * d_c / mean(d) + gamma1 * w_c / mean(w), with d_c the sum of channel
// c's `parts` partials (null: gamma2 = 0) and w_c = norms[c] (null: gamma1 = 0); a term whose mean is
// not positive is dropped, as on the CPU. A NaN score (from a non-finite error map) becomes -1, so it
// ranks after every channel and the ranking stays a strict order.
__global__ void channel_scores(const double* __restrict__ partial, int64_t parts, const double* __restrict__ norms,
                               int64_t channels, double gamma1, double gamma2, double* __restrict__ score) {
  __shared__ double shared[kWarp];
  // Warp w sums channels w, w + warps, ... : its lanes stride over the channel's partials (hundreds
  // at batch 512), then a fixed-order shuffle reduction. One thread per channel walking them serially
  // took 33 us at ResNet-20's first stage (H200), a tenth of that conv's backward.
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp, warps = blockDim.x / kWarp;
  double d_sum = 0, w_sum = 0;
  for (int64_t c = warp; c < channels; c += warps) {
    double d = 0;
    if (partial)
      for (int64_t p = lane; p < parts; p += kWarp) d += partial[c * parts + p];
    d = warp_sum(d);
    if (lane == 0) {
      score[c] = d;  // read back below by the thread that owns channel c there
      d_sum += d;
      if (norms) w_sum += norms[c];
    }
  }
  const double d_mean = block_sum(d_sum, shared) / static_cast<double>(channels);  // also orders the writes
  const double w_mean = block_sum(w_sum, shared) / static_cast<double>(channels);
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) {
    double s = 0;
    if (partial && d_mean > 0.0) s += gamma2 * score[c] / d_mean;
    if (norms && w_mean > 0.0) s += gamma1 * norms[c] / w_mean;
    score[c] = isnan(s) ? -1.0 : s;
  }
}

// One block of kRankThreads, channels <= kMaxRankChannels: channel c is kept when fewer than k
// channels rank before it (a higher score, or an equal score and a lower index). Thread t owns the
// channels [t * per, (t + 1) * per), so an exclusive prefix sum of the per-thread counts of kept
// channels is where each thread writes its own, ascending.
__global__ void keep_top(const double* __restrict__ score, int64_t channels, int64_t k, int64_t* __restrict__ kept) {
  using Scan = cub::BlockScan<int, kRankThreads>;
  __shared__ double s[kMaxRankChannels];
  __shared__ typename Scan::TempStorage scan_storage;
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) s[c] = score[c];
  __syncthreads();
  const int per = static_cast<int>((channels + kRankThreads - 1) / kRankThreads);  // <= 4
  const int64_t first = static_cast<int64_t>(threadIdx.x) * per;
  unsigned flags = 0;
  int count = 0;
  for (int i = 0; i < per && first + i < channels; ++i) {
    const int64_t c = first + i;
    const double sc = s[c];
    int64_t rank = 0;
    for (int64_t j = 0; j < channels; ++j) rank += s[j] > sc || (s[j] == sc && j < c);
    if (rank < k) {
      flags |= 1u << i;
      ++count;
    }
  }
  int offset = 0;
  Scan(scan_storage).ExclusiveSum(count, offset);
  for (int i = 0; i < per; ++i)
    if (flags >> i & 1u) kept[offset++] = first + i;
}

// Launches the error-map norm kernel for grad_output's layout; returns the partials [C, P] and P.
template <typename T>
std::pair<at::Tensor, int64_t> error_norms(const at::Tensor& grad_output, cudaStream_t stream) {
  const int64_t n = grad_output.size(0), channels = grad_output.size(1);
  const int64_t plane = grad_output.size(2) * grad_output.size(3);
  const auto options = grad_output.options().dtype(at::kDouble);
  // A channels-last error map (from a channels-last model) is read in place, not copied.
  if (!grad_output.is_contiguous() && grad_output.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    const int64_t rows = n * plane, rows_per_step = kThreads / kWarp;
    const int64_t parts = block_count(ceil_div(rows * std::min<int64_t>(channels, kWarp), kBlockElements),
                                      std::min(ceil_div(rows, rows_per_step), kMaxPartials));
    auto partial = at::empty({channels, parts}, options);
    const dim3 grid(static_cast<unsigned>(ceil_div(channels, kWarp)), static_cast<unsigned>(parts));
    error_norms_nhwc<T><<<grid, dim3(kWarp, rows_per_step), 0, stream>>>(grad_output.data_ptr<T>(), rows, channels,
                                                                          partial.data_ptr<double>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return {partial, parts};
  }
  const auto go = grad_output.contiguous();
  const int64_t segments = ceil_div(plane, kSegment);
  const int64_t parts = block_count(ceil_div(n * plane, kBlockElements),
                                    std::min(ceil_div(n * segments, kThreads / kWarp), kMaxPartials));
  auto partial = at::empty({channels, parts}, options);
  const dim3 grid(static_cast<unsigned>(channels), static_cast<unsigned>(parts));
  error_norms_nchw<T><<<grid, kThreads, 0, stream>>>(go.data_ptr<T>(), n, channels, plane, segments,
                                                      partial.data_ptr<double>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {partial, parts};
}

// The channel scores [C_out] (double, on the device) of select_channels.h.
at::Tensor channel_scores_cuda(const at::Tensor& grad_output, const at::Tensor& weight, double gamma1, double gamma2,
                               cudaStream_t stream) {
  const int64_t channels = weight.size(0);
  at::Tensor partial, norms;
  int64_t parts = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_output.scalar_type(), "select_channels_cuda", [&] {
    if (gamma2 != 0.0) std::tie(partial, parts) = error_norms<scalar_t>(grad_output, stream);
    if (gamma1 != 0.0) {
      // Both layouts store each filter's elements together: rows of numel / C_out.
      const bool rows = weight.is_contiguous() || weight.is_contiguous(at::MemoryFormat::ChannelsLast);
      const auto w = rows ? weight : weight.contiguous();
      norms = at::empty({channels}, grad_output.options().dtype(at::kDouble));
      weight_norms<scalar_t><<<static_cast<unsigned>(channels), kThreads, 0, stream>>>(
          w.data_ptr<scalar_t>(), w.numel() / channels, norms.data_ptr<double>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  auto score = at::empty({channels}, grad_output.options().dtype(at::kDouble));
  channel_scores<<<1, kRankThreads, 0, stream>>>(partial.defined() ? partial.data_ptr<double>() : nullptr, parts,
                                                 norms.defined() ? norms.data_ptr<double>() : nullptr, channels,
                                                 gamma1, gamma2, score.data_ptr<double>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return score;
}

at::Tensor select_channels_cuda(const at::Tensor& grad_output, const at::Tensor& weight, double keep, double gamma1,
                                double gamma2) {
  detail::check_select_channels_args(grad_output, weight, keep, gamma1, gamma2);
  const c10::cuda::CUDAGuard guard(grad_output.device());
  const int64_t channels = weight.size(0);
  const int64_t k = kept_channels(channels, keep);
  const auto index_options = grad_output.options().dtype(at::kLong);
  if (k == channels) return at::arange(channels, index_options);

  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const auto score = channel_scores_cuda(grad_output, weight, gamma1, gamma2, stream);
  if (channels > kMaxRankChannels) {
    // More scores than the ranking block holds: ATen's stable sort ranks them (highest first, equal
    // scores in index order), then the first k indices are sorted ascending.
    const auto order = std::get<1>(at::sort(score, /*stable=*/true, /*dim=*/0, /*descending=*/true));
    return std::get<0>(at::sort(order.narrow(0, 0, k)));
  }
  auto kept = at::empty({k}, index_options);
  keep_top<<<1, kRankThreads, 0, stream>>>(score.data_ptr<double>(), channels, k, kept.data_ptr<int64_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return kept;
}

// One thread: the inclusion probabilities (in place of the scores) and the systematic draw of
// channel_sampling.h, the code the CPU kernel runs. O(C_out) per capping pass, and a pass per newly
// capped group (a few in practice, C_out at worst): small beside the backward it prunes at today's
// channel counts, and it keeps one implementation of the rule.
__global__ void sample_kept(double* __restrict__ score, int64_t channels, int64_t k, double u,
                            int64_t* __restrict__ kept, double* __restrict__ scale) {
  sampling::inclusion_probabilities(score, channels, k, score);
  const int64_t drawn = sampling::systematic_sample(score, channels, k, u, kept, scale);
  CUDA_KERNEL_ASSERT(drawn == k);
}

std::tuple<at::Tensor, at::Tensor> sample_channels_cuda(const at::Tensor& grad_output, const at::Tensor& weight,
                                                        double keep, double gamma1, double gamma2) {
  detail::check_select_channels_args(grad_output, weight, keep, gamma1, gamma2);
  const c10::cuda::CUDAGuard guard(grad_output.device());
  const int64_t channels = weight.size(0);
  const int64_t k = kept_channels(channels, keep);
  const auto index_options = grad_output.options().dtype(at::kLong);
  const auto scale_options = grad_output.options().dtype(at::toOpMathType(grad_output.scalar_type()));
  if (k == channels) return {at::arange(channels, index_options), at::ones({channels}, scale_options)};

  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  auto score = channel_scores_cuda(grad_output, weight, gamma1, gamma2, stream);
  auto kept = at::empty({k}, index_options);
  auto scale = at::empty({k}, grad_output.options().dtype(at::kDouble));
  // The uniform comes from the CPU generator, passed by value (no synchronisation): the draw is the
  // CPU kernel's for the same seed, and the trainer's checkpoints (which save that generator) resume
  // it exactly. A CUDA graph captured around it would replay one draw.
  sample_kept<<<1, 1, 0, stream>>>(score.data_ptr<double>(), channels, k, detail::uniform_draw(),
                                   kept.data_ptr<int64_t>(), scale.data_ptr<double>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {kept, scale.to(scale_options)};
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, CUDA, m) {
  m.impl("select_channels", select_channels_cuda);
  m.impl("sample_channels", sample_channels_cuda);
}

}  // namespace skiptrain
