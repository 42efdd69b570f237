package main

import (
	"math"
	"testing"
)

func TestSlope(t *testing.T) {
	for _, tc := range []struct {
		name string
		x, y []float64
		want float64
	}{
		{"flat", []float64{0, 10, 20}, []float64{5, 5, 5}, 0},
		{"one per second", []float64{0, 10, 20}, []float64{1, 11, 21}, 1},
		{"noise around a rise", []float64{0, 1, 2, 3}, []float64{0, 2, 2, 4}, 1.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := slope(tc.x, tc.y); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("slope = %v, want %v", got, tc.want)
			}
		})
	}
	if got := slope([]float64{1}, []float64{1}); !math.IsNaN(got) {
		t.Errorf("one point: %v, want NaN", got)
	}
	// Samples marked -1 (nothing measured yet) are left out.
	if got := slopeValid([]float64{0, 1, 2, 3}, []float64{-1, 2, 3, 4}); math.Abs(got-1) > 1e-9 {
		t.Errorf("slopeValid = %v, want 1", got)
	}
}
