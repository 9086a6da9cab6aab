// Test-set evaluation.
#include "skiptrain/train/evaluate.h"

#include "skiptrain/data/stream.h"
#include "skiptrain/train/memory_format.h"

#include <torch/torch.h>

#include <cmath>

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
  // Per class, summed on the device and read once at the end.
  const int64_t classes = info.num_classes;
  auto class_counts = torch::zeros({2, classes}, torch::dtype(torch::kInt64).device(device));
  for (int64_t start = 0; start < dataset.size(); start += batch_size) {
    const int64_t end = std::min(start + batch_size, dataset.size());
    auto images = data::normalize(dataset.images.slice(0, start, end), info).to(device);
    if (channels_last_model) images = channels_last(images);
    auto labels = dataset.labels.slice(0, start, end).to(device);
    auto logits = model.forward(images);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    const auto hit = logits.argmax(1).eq(labels);
    correct += hit.sum().item<int64_t>();
    class_counts[0].add_(torch::bincount(labels, {}, classes).slice(0, 0, classes));
    class_counts[1].add_(torch::bincount(labels.masked_select(hit), {}, classes).slice(0, 0, classes));
  }
  model.train(was_training);
  result.instances = dataset.size();
  result.correct = correct;
  result.loss_sum = loss_sum;
  class_counts = class_counts.to(torch::kCPU).contiguous();
  const int64_t* counts = class_counts.data_ptr<int64_t>();
  result.instances_by_class.assign(counts, counts + classes);
  result.correct_by_class.assign(counts + classes, counts + 2 * classes);
  if (result.instances > 0) {
    result.accuracy = static_cast<double>(correct) / result.instances;
    result.loss = loss_sum / result.instances;
  }
  return result;
}

std::vector<double> Evaluation::accuracy_by_class() const {
  std::vector<double> accuracy;
  for (size_t c = 0; c < instances_by_class.size(); ++c)
    accuracy.push_back(instances_by_class[c] > 0 ? static_cast<double>(correct_by_class[c]) / instances_by_class[c]
                                                 : NAN);
  return accuracy;
}

}  // namespace skiptrain::train
