#include "skiptrain/skiptrain.h"
#include <iostream>
int main() { std::cout << skiptrain::version() << "\n"; }
