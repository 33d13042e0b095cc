#include <iostream>
int main() { std::cout << "nnsight: not yet\n"; return 0; }
