package config

import (
	"fmt"

	"github.com/xdpids/xdpids/userspace/learn/model"
)

// LoadModel loads the learned model the file names (model:): "builtin"
// (or empty) the embedded default, "none" no model, else a model file.
// A bad file is one error; the caller keeps the model it runs.
func (f *File) LoadModel() (*model.Model, error) {
	return LoadModel(f.Model)
}

// LoadModel loads a model by a model: or --model value (see File.LoadModel).
func LoadModel(v string) (*model.Model, error) {
	switch v {
	case "", "builtin":
		return model.Default(), nil
	case "none", "off":
		return nil, nil
	}
	m, err := model.Load(v)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}
