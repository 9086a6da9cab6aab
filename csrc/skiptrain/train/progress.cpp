// Progress bar / log lines on stderr.
#include "skiptrain/train/progress.h"

#include <cstdio>
#include <unistd.h>

namespace skiptrain::train {
namespace {
std::string clock_text(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  const auto s = static_cast<int64_t>(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return buf;
}
}  // namespace

Progress::Progress(const std::string& mode, int64_t total, int64_t start)
    : total_(total), start_(start), begin_(std::chrono::steady_clock::now()), last_draw_(begin_) {
  silent_ = mode == "none";
  bar_ = mode == "bar" || (mode == "auto" && isatty(STDERR_FILENO));
}

void Progress::update(int64_t done, int64_t instances, double loss) {
  if (silent_) return;
  instances_ = instances;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - begin_).count();
  const double rate = elapsed > 0 ? instances_ / elapsed : 0;
  if (bar_) {
    if (std::chrono::duration<double>(now - last_draw_).count() < 0.1 && done < total_) return;
    last_draw_ = now;
    draw(done, rate, loss, false);
    return;
  }
  const int64_t step = std::max<int64_t>(1, total_ / 20);
  if (done / step == last_logged_ && done < total_) return;
  last_logged_ = done / step;
  draw(done, rate, loss, true);
}

void Progress::draw(int64_t done, double rate, double loss, bool as_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin_).count();
  const double per_iter = done > start_ ? elapsed / (done - start_) : 0;
  const double eta = per_iter * (total_ - done);
  const double frac = total_ > 0 ? static_cast<double>(done) / total_ : 1.0;
  if (as_line) {
    std::fprintf(stderr, "iter %lld/%lld  %5.1f%%  loss %.4f  %.0f img/s  elapsed %s  eta %s\n", (long long)done,
                 (long long)total_, 100 * frac, loss, rate, clock_text(elapsed).c_str(), clock_text(eta).c_str());
    return;
  }
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  std::fprintf(stderr, "\r[%s] %5.1f%% %lld/%lld  loss %.4f  %.0f img/s  eta %s ", bar.c_str(), 100 * frac,
               (long long)done, (long long)total_, loss, rate, clock_text(eta).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::message(const std::string& line) {
  if (silent_) return;
  if (bar_ && drawn_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", line.c_str());
}

void Progress::finish() {
  if (bar_ && drawn_) std::fprintf(stderr, "\n");
}

}  // namespace skiptrain::train
