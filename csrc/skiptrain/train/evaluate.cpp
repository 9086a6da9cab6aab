// Test-set evaluation.
#include "skiptrain/train/evaluate.h"

#include "skiptrain/data/stream.h"
#include "skiptrain/train/memory_format.h"

#include <torch/torch.h>

namespace skiptrain::train {

Evaluation evaluate(nn::NetworkImpl& model, const data::Dataset& dataset, const data::DatasetInfo& info,
                    int64_t batch_size) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  Evaluation result;
  // The model's device: the test images are decoded on the CPU, then moved in batches; and its
  // layout: a channels-last model gets channels-last batches (else each conv converts its input).
  const auto device = model.parameters().front().device();
  bool channels_last_model = false;
  for (const auto& p : model.parameters())
    if (p.dim() == 4) {
      channels_last_model = !p.is_contiguous() && p.is_contiguous(at::MemoryFormat::ChannelsLast);
      break;
    }
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < dataset.size(); start += batch_size) {
    const int64_t end = std::min(start + batch_size, dataset.size());
    auto images = data::normalize(dataset.images.slice(0, start, end), info).to(device);
    if (channels_last_model) images = channels_last(images);
    auto labels = dataset.labels.slice(0, start, end).to(device);
    auto logits = model.forward(images);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
  }
  model.train(was_training);
  result.instances = dataset.size();
  result.correct = correct;
  result.loss_sum = loss_sum;
  if (result.instances > 0) {
    result.accuracy = static_cast<double>(correct) / result.instances;
    result.loss = loss_sum / result.instances;
  }
  return result;
}

}  // namespace skiptrain::train
