// Channels-last conversion of models and batches.
#include "skiptrain/train/memory_format.h"

#include <torch/torch.h>

namespace skiptrain::train {

void use_channels_last(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
}

torch::Tensor channels_last(const torch::Tensor& images) {
  return images.dim() == 4 ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
}

}  // namespace skiptrain::train
