#include "gpuslots/text.hpp"

namespace gpuslots {
namespace {
Translator g_translator = nullptr;
}  // namespace

void set_translator(Translator translator) {
    g_translator = translator;
}

Translator translator() {
    return g_translator;
}

}  // namespace gpuslots
