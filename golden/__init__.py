"""SkipLSTM golden model: configuration, fixed point, activation tables, float and bit-exact
integer LSTM, parameter import and stream image, cycle model. Imports NumPy only."""
