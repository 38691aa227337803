// make_in_doubt_journal: writes the journal a crash leaves behind while batches were in flight:
// intents and no outcomes, so every address read from stdin (one a line) is in doubt for the
// next run of `chime-onboard invite --journal FILE`. For bench/in_doubt_resume.sh, which needs a
// resume with exactly N batches in doubt; a real crash leaves as many as were in flight.
//
//   bench_make_in_doubt_journal FILE ACCOUNT_ID [BATCH_SIZE] < addresses.txt
#include <onboard/journal/journal.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: " << argv[0] << " FILE ACCOUNT_ID [BATCH_SIZE] < addresses.txt\n";
    return 2;
  }
  const std::size_t batch_size = argc == 4 ? std::strtoul(argv[3], nullptr, 10) : 50;
  if (batch_size == 0 || batch_size > 50) {
    std::cerr << "BATCH_SIZE: expected 1 to 50, got '" << argv[3] << "'\n";
    return 2;
  }
  try {
    onboard::journal_header h;
    h.account_id = argv[2];
    auto j = onboard::journal::open(argv[1], h);
    std::vector<std::string> batch;
    std::uint64_t id = 0, addresses = 0;
    auto flush = [&] {
      if (batch.empty()) return;
      j->wait_durable(j->record_intent(++id, batch));
      addresses += batch.size();
      batch.clear();
    };
    for (std::string line; std::getline(std::cin, line);) {
      if (line.empty()) continue;
      batch.push_back(line);
      if (batch.size() == batch_size) flush();
    }
    flush();
    j->close();
    std::cerr << argv[1] << ": " << id << " batches, " << addresses << " addresses in doubt\n";
  } catch (const std::exception& e) {
    std::cerr << argv[1] << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
