package main

import (
	"reflect"
	"testing"
)

func TestStripFlag(t *testing.T) {
	for _, tc := range []struct {
		args, want []string
	}{
		{[]string{"--nproc_per_node", "2", "--epochs", "3"}, []string{"--epochs", "3"}},
		{[]string{"--epochs=3", "--nproc_per_node=4"}, []string{"--epochs=3"}},
		{[]string{"-nproc_per_node", "2", "--lr", "0.1", "-nproc_per_node=3"}, []string{"--lr", "0.1"}},
		{[]string{"--nproc_per_node_x", "1"}, []string{"--nproc_per_node_x", "1"}},
		{[]string{"--model", "nproc_per_node"}, []string{"--model", "nproc_per_node"}},
		{[]string{"--", "--nproc_per_node", "2"}, []string{"--", "--nproc_per_node", "2"}},
		{nil, nil},
	} {
		if got := stripFlag(tc.args, "nproc_per_node"); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("stripFlag(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
