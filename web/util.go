package web

import (
	"errors"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
)

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }

// idParam reads a positive integer path parameter.
func idParam(c *gin.Context, name string) (int64, error) {
	v := c.Param(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, shifu.Errorf(shifu.ErrInvalid, "%s %q: want a positive whole number", name, v)
	}
	return id, nil
}
